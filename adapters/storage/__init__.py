"""Object storage behind one interface: S3 (and S3-compatible endpoints) and a local folder."""
