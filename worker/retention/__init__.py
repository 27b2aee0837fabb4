"""Retention: policies and the pure rules that decide which backups a policy keeps."""
