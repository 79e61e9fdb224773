"""Share groups' records (KIP-932): share partitions, share sessions, and their persistence."""
