"""The unified B2B model (`b2b.*`): one row per source record, every source type mapped alike."""
