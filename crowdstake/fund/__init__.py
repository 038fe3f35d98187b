"""The fund's side of the tournament: its raw market data (`market`) and the obfuscated dataset
each round publishes (`dataset`)."""
