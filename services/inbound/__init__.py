"""inbound: receives texts from the carrier (stored once per carrier message id), serves them to the API
(list, get, long poll) and pushes them to each number's signed webhook with durable retries."""
