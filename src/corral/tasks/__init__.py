"""Assistant tasks: summarise a feed, explain a conversation, tips for creators.

Each task turns its input into prompts for any model in the catalog (through the same gateway:
auth, licences, budgets, metering, privacy), asks for JSON that follows a published schema,
checks the references the model cites against the input, and splits long inputs into chunks
that fit the model (map-reduce).
"""
