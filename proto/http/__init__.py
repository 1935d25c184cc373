"""Public API request and response bodies, by feature; the OpenAPI document is generated from them."""
