"""Static files of the Web Audio player component (index.html, player.js), served by Streamlit.
A package only so that installs ship these files."""
