"""SAM-X serving: Ray Serve classification and Grad-CAM."""
