"""What a training run reports and leaves besides its job record: metrics a trainer sends
(`reports` checks them, `store` keeps them, `tokens` says who may send them), the comparison of
a team's runs (`comparison`), the stalled-run decision (`stalls`), and the logs kept after its
pods are gone (`logs`)."""
