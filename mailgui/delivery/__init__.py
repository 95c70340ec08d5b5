"""The delivery worker (asyncio, no Qt): claims due messages, sends them, records outcomes, reports bounces."""
