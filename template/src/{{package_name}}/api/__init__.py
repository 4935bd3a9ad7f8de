"""HTTP routes and their request and response schemas."""
