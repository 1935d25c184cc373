"""The MCP server of AgentMessage (tools and resources over the public API), shared by the gateway's
``/mcp`` and ``amctl mcp``."""
