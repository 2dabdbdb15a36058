"""Licensing: the offline licence catalogue, the DUA-OAI licence policy, and REUSE attachments."""
