"""AgentMessage: the SMS API for software agents — typed Python client.

    from agentmessage import Client
    with Client() as am:                     # AGENTMESSAGE_API_KEY, AM_API_URL
        msg = am.send_message("+14155550100", "+15551234567", "hello")
        reply = am.wait_for_reply("+15551234567", timeout=60)
"""

from agentmessage.client import AsyncClient, Client
from agentmessage.errors import ApiError
from agentmessage.models import (
    ApiKey,
    Balance,
    Consent,
    Conversation,
    ConversationMessage,
    DoubleOptIn,
    InboundMessage,
    KeyCaps,
    KeyUsage,
    Message,
    Page,
    PhoneNumber,
    SendDecision,
)
from agentmessage.webhooks import verify_signature

__all__ = [
    "ApiError", "ApiKey", "AsyncClient", "Balance", "Client", "Consent", "Conversation", "ConversationMessage",
    "DoubleOptIn", "InboundMessage", "KeyCaps", "KeyUsage", "Message", "Page", "PhoneNumber", "SendDecision",
    "verify_signature",
]
