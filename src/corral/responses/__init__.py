"""The Responses API's domain: a Responses request becomes the pipeline's chat request (same
auth, entitlement, guard, metering), its answer becomes output items, and stored responses
chain conversations through `previous_response_id`."""
