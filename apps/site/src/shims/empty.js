// Stands in for Node-only modules that TensorFlow.js mentions in its Node platform code (node-fetch),
// which `astro dev`'s dependency pre-bundling cannot resolve under pnpm. Never called in a browser.
export default {};
