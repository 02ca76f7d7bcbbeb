// Loaded last: every page's file has registered its loader.

start();
