"""The study's domain: data model, protocol rules and the services that apply them."""
