"""Forwarding authorised calls to the service that owns the resource."""
