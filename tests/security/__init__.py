"""Security tests: each finding of issue 12 as an attacker reproduced it, refused."""
