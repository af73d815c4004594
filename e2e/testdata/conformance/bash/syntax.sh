handler() {
  if then fi
