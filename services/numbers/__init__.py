"""numbers: owned phone numbers and their settings (inbound_url, webhook secrets), 10DLC brands,
campaigns and the links between numbers and campaigns."""
