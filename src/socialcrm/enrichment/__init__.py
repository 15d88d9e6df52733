"""Enrich Contacts with public social profiles: matching, links, snapshots, runs."""
