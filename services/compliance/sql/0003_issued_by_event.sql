-- Compliance's own texts go out because outbound consumes the events that record them (ReplyIssued,
-- DoubleOptInRequested); nothing hands them over or looks for unsent ones any more. The columns stay,
-- unwritten, for replicas of the previous release during a rolling upgrade; the indexes for that
-- search go.
DROP INDEX IF EXISTS issued_messages_unsent;
DROP INDEX IF EXISTS issued_messages_sweep;
