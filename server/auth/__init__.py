"""Who is who: agent passwords and sessions, visitor tokens, shop-signed customer identities, origins."""
