"""Device-management sources: Microsoft Intune, Jamf Pro and Google Workspace (ChromeOS)."""
