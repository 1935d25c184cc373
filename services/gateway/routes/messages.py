"""Routes: send messages, read them back with their timeline, the status-callback secret."""

from __future__ import annotations

from proto.commands import outbound as c
from proto.http.messages import ListMessagesQuery, SendMessageBody
from services.gateway.api import Ctx, Reply, Route, on_resource
from services.gateway.sends import SENDS_KEY

TAG = "messages"


async def send(ctx: Ctx) -> Reply:
    b: SendMessageBody = ctx.body
    # without a message_id of its own, a send with an Idempotency-Key gets one derived from it: a retry
    # after any fault (a timeout, a crash) names the same message, and outbound keeps one per id
    cmd = c.SendMessage(org_id=ctx.org_id, message_id=b.message_id or ctx.resource_id, from_=ctx.phone(b.from_, "from"),
                        to=ctx.phone(b.to, "to"), text=b.text, category=b.category, send_at=b.send_at,
                        validity_seconds=b.validity_seconds, status_callback_url=b.status_callback_url,
                        on_frequency_cap=b.on_frequency_cap)
    return Reply(await ctx.request.app[SENDS_KEY].send(cmd), status=202)  # with the sends in flight with it


async def list_messages(ctx: Ctx) -> Reply:
    q: ListMessagesQuery = ctx.query
    raw_from = ctx.request.query.get("from")  # a Python keyword: the query decoder only sees field names
    cmd = c.ListMessages(org_id=ctx.org_id, limit=q.limit, cursor=q.cursor, status=q.status,
                         from_=ctx.phone(raw_from, "from") if raw_from else None,
                         to=ctx.phone(q.to, "to") if q.to else None,
                         created_after=q.created_after, created_before=q.created_before)
    page = await ctx.call(cmd)
    return Reply.page(page)


async def callback_secret(ctx: Ctx) -> Reply:
    return Reply(await ctx.call(c.GetCallbackSecret(org_id=ctx.org_id)))


ROUTES = [
    Route("POST", "/v1/messages", send, "Send a text message", TAG, body=SendMessageBody, response=c.MessageView,
          status=202,
          errors=("FROM_NUMBER_NOT_FOUND", "CONSENT_REQUIRED", "RECIPIENT_OPTED_OUT", "QUIET_HOURS",
                  "FREQUENCY_CAP", "SENDING_NOT_ENABLED", "INSUFFICIENT_CREDIT", "MESSAGE_ID_TAKEN"),
          description="Answers 202 with the message, status queued (or scheduled, for send_at or quiet hours), "
                      "its segments, encoding and price, and where it stands in its number's queue. The send "
                      "passes the compliance gate first (453 CONSENT_REQUIRED / RECIPIENT_OPTED_OUT / "
                      "QUIET_HOURS / FREQUENCY_CAP with details.next_allowed_at, 403 SENDING_NOT_ENABLED; over a frequency cap "
                      "with on_frequency_cap defer, it is scheduled to then) and reserves credit for its segments (402 "
                      "INSUFFICIENT_CREDIT); nothing is created or charged when it is refused. from must be one "
                      "of your numbers (else 400 FROM_NUMBER_NOT_FOUND). Status then moves queued -> sending -> "
                      "sent -> delivered | undelivered, or failed (the carrier refused it, or it expired), or "
                      "canceled (the recipient opted out first, POST /v1/messages/{id}/cancel, or its number was "
                      "released); failed and canceled are refunded."),
    Route("GET", "/v1/messages", list_messages, "List messages, newest first", TAG, query=ListMessagesQuery,
          response=list[c.MessageView], paginated=True,
          description="Filters: status (comma separated), from, to, created_after, created_before."),
    Route("GET", "/v1/messages/callback-secret", callback_secret,
          "The organization's status-callback signing secret", TAG, response=c.CallbackSecretView,
          description="Status callbacks are signed (X-AmCore-Signature) with the sending number's webhook_secret; "
                      "callbacks from a number without one are signed with this organization-wide secret."),
    Route("GET", "/v1/messages/{id}", on_resource(c.GetMessage, "message_id"), "Get a message with its timeline", TAG,
          response=c.MessageDetail,
          description="timeline lists every status the message went through, with its time and reason."),
    Route("POST", "/v1/messages/{id}/cancel", on_resource(c.CancelMessage, "message_id"),
          "Cancel a scheduled or queued message", TAG, response=c.MessageDetail, errors=("MESSAGE_NOT_CANCELABLE",),
          description="A message that has not reached the carrier (status scheduled or queued) ends canceled with "
                      "error_code CANCELED_BY_USER (also the timeline's reason): its credit is refunded and its "
                      "status callback sent. Once it is sending or later: 409 MESSAGE_NOT_CANCELABLE "
                      "(details.status says where it is). Canceling a canceled message answers it as it is. "
                      "Race-safe against sending: a message is either canceled and never submitted, or already "
                      "sending and not canceled."),
    Route("GET", "/v1/messages/{id}/status-callbacks", on_resource(c.ListStatusCallbacks, "message_id"),
          "A message's status callbacks and their attempts", TAG, response=list[c.StatusCallbackView],
          description="Each status change POSTed to the status_callback_url: state pending / delivered / failed, "
                      "attempts, the last answer's status code or error, and when the next attempt is due."),
]
