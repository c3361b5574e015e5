"""The notifications service: who must be told what, on which channel, exactly once."""
