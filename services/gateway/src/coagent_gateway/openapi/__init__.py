"""The public OpenAPI document: the gateway's operations and those of the services behind it."""
