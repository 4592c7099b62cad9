"""Identity resolution: accounts across systems, people by email, with the evidence of each link."""
