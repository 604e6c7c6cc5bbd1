"""What every Spark job shares: the session builder, lake paths, partition I/O, schemas."""
