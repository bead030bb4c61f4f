"""Write services: each loads, asks the rules, writes record + deviations + audit, commits once."""
