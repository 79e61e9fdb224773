"""Our message definitions (`apis`) and the language they are written in (`dsl`)."""
