"""Where prices come from besides the shipped table: LiteLLM's file, fetched
on request into a cache (``update``), and the generator of the shipped table
itself (``generate``). The only code in tmuxtok that opens a network
connection is here, and it runs only when asked to."""
