"""E-mail: the channel for customers who are not on the site, both ways, with consent and a way out."""
