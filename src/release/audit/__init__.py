"""Memorisation audit: does the model reproduce training records from their first tokens?"""
