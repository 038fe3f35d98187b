"""The fund's side of the tournament: its raw market data (`market`), the obfuscated dataset
each round publishes (`dataset`), a tournament's payout parameters in people's units (`params`),
the fund's on-chain operations (`operations.Fund`: tournaments, rounds, the reward pool, the
pause, the targets hash) and its publications, checked before anything is sent: a round's
dataset into the store and a resolved round's targets into the store and on-chain
(`publishing`)."""
