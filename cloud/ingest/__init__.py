"""Pure ingest logic: body decoding, batch envelope validation and the apply plan."""
