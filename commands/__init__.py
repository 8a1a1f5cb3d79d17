"""The `/backup` grammar: text to typed requests, and who may run what."""
