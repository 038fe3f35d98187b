"""The fund's side of the tournament: its raw market data (`market`), the obfuscated dataset
each round publishes (`dataset`), and its publications, checked before anything is sent: a
round's dataset into the store and a resolved round's targets into the store and on-chain
(`publishing`)."""
