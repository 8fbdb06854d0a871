"""k-means: Lloyd's algorithm with k-means++ seeding, elbow and silhouette."""
