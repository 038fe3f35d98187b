"""The on-chain results format that the oracle, the keeper and the participant share: Merkle
leaves, proofs and multiproofs (`merkle`), the contract's payout arithmetic in integers
(`payout`), and the published score table (`table`)."""
