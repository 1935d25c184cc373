-- Every decision of the gate, one row each (GET /v1/compliance/decisions and its export): projected
-- from the GateDecisionsRecorded pages in the statement that appends them. reason_code is the deny code,
-- or for a defer the deferring checks' names in upper case (QUIET_HOURS); NULL for an allow.
CREATE TABLE IF NOT EXISTS gate_decisions (
    org_id          text        NOT NULL,
    decision_id     uuid        NOT NULL,
    decided_at      timestamptz NOT NULL,
    message_id      text        NOT NULL,
    stage           text        NOT NULL,
    from_number     text        NOT NULL,
    contact_number  text        NOT NULL,
    kind            text        NOT NULL,
    category        text        NOT NULL,
    outcome         text        NOT NULL,
    code            text,
    reason_code     text,
    reason          text        NOT NULL DEFAULT '',
    defer_until     text,
    checks          jsonb       NOT NULL DEFAULT '[]'::jsonb,
    page_event_id   uuid,
    PRIMARY KEY (org_id, decided_at, decision_id)
);
CREATE INDEX IF NOT EXISTS gate_decisions_contact ON gate_decisions (org_id, contact_number, decided_at, decision_id);
CREATE INDEX IF NOT EXISTS gate_decisions_message ON gate_decisions (org_id, message_id);

-- the decisions recorded before this table existed, from their pages (and the single-decision events
-- written before pages)
INSERT INTO gate_decisions (org_id, decision_id, decided_at, message_id, stage, from_number, contact_number, kind,
                            category, outcome, code, reason_code, reason, defer_until, checks, page_event_id)
SELECT e.org_id, (d->>'decision_id')::uuid, (d->>'decided_at')::timestamptz, d->>'message_id', d->>'stage',
       d->>'from_number', d->>'contact_number', d->>'kind', d->>'category', d->>'decision', d->>'code',
       COALESCE(d->>'code', CASE WHEN d->>'decision' = 'defer' THEN (
           SELECT string_agg(upper(k->>'name'), ',') FROM jsonb_array_elements(d->'checks') k
           WHERE k->>'result' = 'defer') END),
       COALESCE(d->>'reason', ''), d->>'defer_until', COALESCE(d->'checks', '[]'::jsonb), e.event_id
FROM events e CROSS JOIN LATERAL jsonb_array_elements(e.data::jsonb->'decisions') d
WHERE e.event_type = 'GateDecisionsRecorded'
UNION ALL
SELECT e.org_id, (e.data->>'decision_id')::uuid, (e.data->>'occurred_at')::timestamptz, e.data->>'message_id',
       e.data->>'stage', e.data->>'from_number', e.data->>'contact_number', e.data->>'kind', e.data->>'category',
       e.data->>'decision', e.data->>'code', e.data->>'code', COALESCE(e.data->>'reason', ''),
       e.data->>'defer_until', COALESCE(e.data::jsonb->'checks', '[]'::jsonb), e.event_id
FROM events e WHERE e.event_type = 'GateDecisionRecorded'
ON CONFLICT DO NOTHING;
