"""The REST adapter: neutral HTTP requests in, service calls, neutral HTTP responses out."""
