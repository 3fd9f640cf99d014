"""Quote → order, exactly once: contract, ledger, outbox, connectors and the worker that sends.

- `contract`    the order JSON built from an accepted revision, split orders, the ordered-quantity ledger (pure)
- `status`      an order's own status machine: received → in_fulfilment → shipped → closed | cancelled (pure)
- `settings`    the orders settings (connector, timeouts, backoff) from the app config or the environment
- `outbox`      the transactional outbox, its claims (SKIP LOCKED on PostgreSQL) and dead letters
- `records`     the orders table: kept by the builtin order management, mirrored for an external one
- `connectors`  one interface, two order managements: `builtin` (this database) and `http` (CPQ_OMS_URL)
- `service`     use cases: queue an order with a quote change, settle the quote, status events, views
- `worker`      `cpq worker`: claims, sends with the idempotency key, retries with backoff, dead-letters
"""
