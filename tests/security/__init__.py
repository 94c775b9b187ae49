"""The standing attack suite: each test attacks a real server from outside and asserts the attack fails."""
