"""Room chat through the gateway: history, posting, and the WebSocket the web client uses."""
