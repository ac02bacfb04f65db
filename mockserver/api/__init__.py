"""The HTTP layer: thin handlers that parse a request, call the domain, and render the answer."""
