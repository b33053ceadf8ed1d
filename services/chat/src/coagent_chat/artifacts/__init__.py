"""Room artifacts: board tasks, documents and process diagrams, versioned and event-sourced out."""
