proc handler {event context} {
    return "unbalanced
