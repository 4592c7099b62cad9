"""Sources: `sources.yaml`, the objects each source type exports, and the raw layer."""
