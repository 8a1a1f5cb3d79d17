"""What a backup is and how it is made, read and restored: dump pipeline, manifest, catalog."""
