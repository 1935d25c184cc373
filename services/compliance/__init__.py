"""compliance: the consent ledger and its evidence, opt-outs and keywords, quiet hours, and the send gate
every message passes."""
